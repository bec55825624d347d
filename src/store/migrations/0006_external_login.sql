CREATE TABLE `external_identities` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`provider` text NOT NULL,
	`subject` text NOT NULL,
	`email` text DEFAULT '' NOT NULL,
	`email_verified` integer DEFAULT false NOT NULL,
	`claims` text DEFAULT '{}' NOT NULL,
	`created_user` integer DEFAULT false NOT NULL,
	`created_at` integer NOT NULL,
	`last_sign_in_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `external_identities_provider_subject_idx` ON `external_identities` (`provider`,`subject`);--> statement-breakpoint
CREATE INDEX `external_identities_user_idx` ON `external_identities` (`user_id`);--> statement-breakpoint
CREATE TABLE `external_login_states` (
	`id` text PRIMARY KEY NOT NULL,
	`state_hash` text NOT NULL,
	`provider` text NOT NULL,
	`redirect_url` text NOT NULL,
	`code_verifier_sealed` text NOT NULL,
	`nonce_sealed` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`consumed_at` integer,
	`handoff_code_hash` text,
	`handoff_user_id` text,
	`handoff_expires_at` integer,
	`handoff_consumed_at` integer,
	FOREIGN KEY (`handoff_user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `external_login_states_stateHash_unique` ON `external_login_states` (`state_hash`);--> statement-breakpoint
CREATE INDEX `external_login_states_expires_idx` ON `external_login_states` (`expires_at`);--> statement-breakpoint
ALTER TABLE `users` ADD `password_set` integer DEFAULT true NOT NULL;