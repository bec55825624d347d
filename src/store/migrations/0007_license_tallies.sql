CREATE TABLE `license_tallies` (
	`organisation_id` text NOT NULL,
	`side` text NOT NULL,
	`agreement_name` text NOT NULL,
	`agreement_kind` text NOT NULL,
	`agreement_id` text NOT NULL,
	`count` integer NOT NULL,
	PRIMARY KEY(`organisation_id`, `side`, `agreement_name`, `agreement_kind`, `agreement_id`),
	FOREIGN KEY (`organisation_id`) REFERENCES `organisations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
DROP INDEX `licenses_org_key_idx`;--> statement-breakpoint
DROP INDEX `licenses_org_starts_idx`;--> statement-breakpoint
DROP INDEX `licenses_org_expires_idx`;--> statement-breakpoint
DROP INDEX `licenses_provider_key_idx`;--> statement-breakpoint
DROP INDEX `licenses_provider_starts_idx`;--> statement-breakpoint
DROP INDEX `licenses_provider_expires_idx`;--> statement-breakpoint
CREATE INDEX `licenses_org_key_idx` ON `licenses` (`organisation_id`,`license_key`,`id`,`agreement_name`);--> statement-breakpoint
CREATE INDEX `licenses_org_starts_idx` ON `licenses` (`organisation_id`,`starts_at`,`id`,`agreement_name`);--> statement-breakpoint
CREATE INDEX `licenses_org_expires_idx` ON `licenses` (`organisation_id`,`expires_at`,`id`,`agreement_name`);--> statement-breakpoint
CREATE INDEX `licenses_provider_key_idx` ON `licenses` (`provider_organisation_id`,`license_key`,`id`,`agreement_name`);--> statement-breakpoint
CREATE INDEX `licenses_provider_starts_idx` ON `licenses` (`provider_organisation_id`,`starts_at`,`id`,`agreement_name`);--> statement-breakpoint
CREATE INDEX `licenses_provider_expires_idx` ON `licenses` (`provider_organisation_id`,`expires_at`,`id`,`agreement_name`);
--> statement-breakpoint
INSERT INTO `license_tallies` (`organisation_id`, `side`, `agreement_name`, `agreement_kind`, `agreement_id`, `count`)
SELECT `organisation_id`, 'held', `agreement_name`, `agreement_kind`, `agreement_id`, count(*) FROM `licenses`
GROUP BY `organisation_id`, `agreement_name`, `agreement_kind`, `agreement_id`;
--> statement-breakpoint
INSERT INTO `license_tallies` (`organisation_id`, `side`, `agreement_name`, `agreement_kind`, `agreement_id`, `count`)
SELECT `provider_organisation_id`, 'provided', `agreement_name`, `agreement_kind`, `agreement_id`, count(*) FROM `licenses`
GROUP BY `provider_organisation_id`, `agreement_name`, `agreement_kind`, `agreement_id`;
--> statement-breakpoint
CREATE TRIGGER `licenses_tally_insert` AFTER INSERT ON `licenses` BEGIN
	INSERT INTO `license_tallies` (`organisation_id`, `side`, `agreement_name`, `agreement_kind`, `agreement_id`, `count`)
	VALUES (NEW.`organisation_id`, 'held', NEW.`agreement_name`, NEW.`agreement_kind`, NEW.`agreement_id`, 1)
	ON CONFLICT DO UPDATE SET `count` = `count` + 1;
	INSERT INTO `license_tallies` (`organisation_id`, `side`, `agreement_name`, `agreement_kind`, `agreement_id`, `count`)
	VALUES (NEW.`provider_organisation_id`, 'provided', NEW.`agreement_name`, NEW.`agreement_kind`, NEW.`agreement_id`, 1)
	ON CONFLICT DO UPDATE SET `count` = `count` + 1;
END;
--> statement-breakpoint
CREATE TRIGGER `licenses_tally_delete` AFTER DELETE ON `licenses` BEGIN
	UPDATE `license_tallies` SET `count` = `count` - 1
	WHERE `organisation_id` = OLD.`organisation_id` AND `side` = 'held' AND `agreement_name` = OLD.`agreement_name` AND `agreement_kind` = OLD.`agreement_kind` AND `agreement_id` = OLD.`agreement_id`;
	UPDATE `license_tallies` SET `count` = `count` - 1
	WHERE `organisation_id` = OLD.`provider_organisation_id` AND `side` = 'provided' AND `agreement_name` = OLD.`agreement_name` AND `agreement_kind` = OLD.`agreement_kind` AND `agreement_id` = OLD.`agreement_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `licenses_tally_update` AFTER UPDATE OF `organisation_id`, `provider_organisation_id`, `agreement_name`, `agreement_kind`, `agreement_id` ON `licenses` BEGIN
	UPDATE `license_tallies` SET `count` = `count` - 1
	WHERE `organisation_id` = OLD.`organisation_id` AND `side` = 'held' AND `agreement_name` = OLD.`agreement_name` AND `agreement_kind` = OLD.`agreement_kind` AND `agreement_id` = OLD.`agreement_id`;
	UPDATE `license_tallies` SET `count` = `count` - 1
	WHERE `organisation_id` = OLD.`provider_organisation_id` AND `side` = 'provided' AND `agreement_name` = OLD.`agreement_name` AND `agreement_kind` = OLD.`agreement_kind` AND `agreement_id` = OLD.`agreement_id`;
	INSERT INTO `license_tallies` (`organisation_id`, `side`, `agreement_name`, `agreement_kind`, `agreement_id`, `count`)
	VALUES (NEW.`organisation_id`, 'held', NEW.`agreement_name`, NEW.`agreement_kind`, NEW.`agreement_id`, 1)
	ON CONFLICT DO UPDATE SET `count` = `count` + 1;
	INSERT INTO `license_tallies` (`organisation_id`, `side`, `agreement_name`, `agreement_kind`, `agreement_id`, `count`)
	VALUES (NEW.`provider_organisation_id`, 'provided', NEW.`agreement_name`, NEW.`agreement_kind`, NEW.`agreement_id`, 1)
	ON CONFLICT DO UPDATE SET `count` = `count` + 1;
END;
