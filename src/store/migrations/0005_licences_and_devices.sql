CREATE TABLE `device_authorizations` (
	`id` text PRIMARY KEY NOT NULL,
	`device_code_hash` text NOT NULL,
	`user_code_hash` text NOT NULL,
	`device_name` text NOT NULL,
	`serial` text NOT NULL,
	`status` text NOT NULL,
	`organisation_id` text,
	`device_id` text,
	`approved_by` text,
	`interval_seconds` integer NOT NULL,
	`last_polled_at` integer,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `device_authorizations_deviceCodeHash_unique` ON `device_authorizations` (`device_code_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `device_authorizations_userCodeHash_unique` ON `device_authorizations` (`user_code_hash`);--> statement-breakpoint
CREATE INDEX `device_authorizations_expires_idx` ON `device_authorizations` (`expires_at`);--> statement-breakpoint
CREATE TABLE `device_licenses` (
	`device_id` text NOT NULL,
	`license_id` text NOT NULL,
	`assigned_at` integer NOT NULL,
	PRIMARY KEY(`device_id`, `license_id`),
	FOREIGN KEY (`device_id`) REFERENCES `devices`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`license_id`) REFERENCES `licenses`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `device_licenses_license_idx` ON `device_licenses` (`license_id`);--> statement-breakpoint
CREATE TABLE `device_refresh_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`token_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`consumed_at` integer,
	`successor_id` text,
	`successor_sealed` text,
	FOREIGN KEY (`session_id`) REFERENCES `device_sessions`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `device_refresh_tokens_tokenHash_unique` ON `device_refresh_tokens` (`token_hash`);--> statement-breakpoint
CREATE INDEX `device_refresh_tokens_session_idx` ON `device_refresh_tokens` (`session_id`);--> statement-breakpoint
CREATE TABLE `device_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`device_id` text NOT NULL,
	`organisation_id` text NOT NULL,
	`ip_address` text NOT NULL,
	`user_agent` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_used_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`revoked_at` integer,
	`revoked_reason` text,
	FOREIGN KEY (`device_id`) REFERENCES `devices`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `device_sessions_device_idx` ON `device_sessions` (`device_id`);--> statement-breakpoint
CREATE TABLE `devices` (
	`id` text PRIMARY KEY NOT NULL,
	`organisation_id` text NOT NULL,
	`name` text NOT NULL,
	`serial` text NOT NULL,
	`credential_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_seen_at` integer,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `devices_organisation_serial_idx` ON `devices` (`organisation_id`,`serial`);--> statement-breakpoint
CREATE INDEX `devices_organisation_name_idx` ON `devices` (`organisation_id`,`name`,`id`);--> statement-breakpoint
CREATE TABLE `agreements` (
	`id` text PRIMARY KEY NOT NULL,
	`provider_organisation_id` text NOT NULL,
	`kind` text NOT NULL,
	`name` text NOT NULL,
	`name_key` text NOT NULL,
	`provides` text NOT NULL,
	`summary` text NOT NULL,
	`published_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`provider_organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `agreements_provider_name_idx` ON `agreements` (`provider_organisation_id`,`name_key`);--> statement-breakpoint
CREATE INDEX `agreements_name_idx` ON `agreements` (`name`,`id`);--> statement-breakpoint
CREATE TABLE `catalogue_items` (
	`id` text PRIMARY KEY NOT NULL,
	`provider_organisation_id` text NOT NULL,
	`name` text NOT NULL,
	`name_key` text NOT NULL,
	`provides` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`provider_organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `catalogue_items_provider_name_idx` ON `catalogue_items` (`provider_organisation_id`,`name_key`);--> statement-breakpoint
CREATE TABLE `license_catalogue_items` (
	`license_id` text NOT NULL,
	`catalogue_item_id` text NOT NULL,
	PRIMARY KEY(`license_id`, `catalogue_item_id`),
	FOREIGN KEY (`license_id`) REFERENCES `licenses`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`catalogue_item_id`) REFERENCES `catalogue_items`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `licenses` (
	`id` text PRIMARY KEY NOT NULL,
	`license_key` text NOT NULL,
	`agreement_id` text NOT NULL,
	`agreement_name` text NOT NULL,
	`agreement_kind` text NOT NULL,
	`features` text NOT NULL,
	`provider_organisation_id` text NOT NULL,
	`organisation_id` text NOT NULL,
	`amount_per_month` integer NOT NULL,
	`discount_bp` integer NOT NULL,
	`starts_at` integer NOT NULL,
	`expires_at` integer,
	`paid_until_at` integer,
	`signed_user_id` text,
	`signed_user_name` text,
	`signed_user_at` integer,
	`max_devices` integer NOT NULL,
	`devices_assigned` integer DEFAULT 0 NOT NULL,
	`revoked_at` integer,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`agreement_id`) REFERENCES `agreements`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`provider_organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`signed_user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `licenses_licenseKey_unique` ON `licenses` (`license_key`);--> statement-breakpoint
CREATE INDEX `licenses_org_key_idx` ON `licenses` (`organisation_id`,`license_key`,`id`);--> statement-breakpoint
CREATE INDEX `licenses_org_agreement_name_idx` ON `licenses` (`organisation_id`,`agreement_name`,`id`);--> statement-breakpoint
CREATE INDEX `licenses_org_starts_idx` ON `licenses` (`organisation_id`,`starts_at`,`id`);--> statement-breakpoint
CREATE INDEX `licenses_org_expires_idx` ON `licenses` (`organisation_id`,`expires_at`,`id`);--> statement-breakpoint
CREATE INDEX `licenses_provider_key_idx` ON `licenses` (`provider_organisation_id`,`license_key`,`id`);--> statement-breakpoint
CREATE INDEX `licenses_provider_agreement_name_idx` ON `licenses` (`provider_organisation_id`,`agreement_name`,`id`);--> statement-breakpoint
CREATE INDEX `licenses_provider_starts_idx` ON `licenses` (`provider_organisation_id`,`starts_at`,`id`);--> statement-breakpoint
CREATE INDEX `licenses_provider_expires_idx` ON `licenses` (`provider_organisation_id`,`expires_at`,`id`);--> statement-breakpoint
CREATE INDEX `licenses_agreement_idx` ON `licenses` (`agreement_id`);--> statement-breakpoint
ALTER TABLE `organisations` ADD `member_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `users_updated_at_idx` ON `users` (`updated_at`,`id`);--> statement-breakpoint
-- Organisation member counts, kept by triggers so that every writer (and the
-- cascades of deleted users and organisations) keeps them exact.
UPDATE `organisations` SET `member_count` = (SELECT count(*) FROM `memberships` WHERE `memberships`.`organisation_id` = `organisations`.`id`);--> statement-breakpoint
CREATE TRIGGER `memberships_count_insert` AFTER INSERT ON `memberships` BEGIN
  UPDATE `organisations` SET `member_count` = `member_count` + 1 WHERE `id` = NEW.`organisation_id`;
END;--> statement-breakpoint
CREATE TRIGGER `memberships_count_delete` AFTER DELETE ON `memberships` BEGIN
  UPDATE `organisations` SET `member_count` = `member_count` - 1 WHERE `id` = OLD.`organisation_id`;
END;
