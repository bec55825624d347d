CREATE TABLE `license_key_grams` (
	`gram` text NOT NULL,
	`license_key` text NOT NULL,
	PRIMARY KEY(`gram`, `license_key`)
) WITHOUT ROWID;
--> statement-breakpoint
DROP INDEX `licenses_org_key_idx`;--> statement-breakpoint
DROP INDEX `licenses_provider_key_idx`;--> statement-breakpoint
CREATE INDEX `licenses_org_key_idx` ON `licenses` (`organisation_id`,`license_key`,`id`,`agreement_name`,`starts_at`,`expires_at`);--> statement-breakpoint
CREATE INDEX `licenses_provider_key_idx` ON `licenses` (`provider_organisation_id`,`license_key`,`id`,`agreement_name`,`starts_at`,`expires_at`);--> statement-breakpoint
CREATE INDEX `licenses_org_agreement_expires_idx` ON `licenses` (`organisation_id`,`agreement_name`,`expires_at`,`id`);--> statement-breakpoint
CREATE INDEX `licenses_provider_agreement_expires_idx` ON `licenses` (`provider_organisation_id`,`agreement_name`,`expires_at`,`id`);--> statement-breakpoint
INSERT OR IGNORE INTO `license_key_grams` (`gram`, `license_key`)
SELECT substr(upper(`licenses`.`license_key`), `p`.`column1`, 2), `licenses`.`license_key` FROM `licenses`, (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15), (16), (17), (18), (19), (20), (21), (22), (23), (24), (25), (26), (27), (28), (29), (30), (31)) AS `p`
WHERE `p`.`column1` < length(`licenses`.`license_key`) AND instr(substr(`licenses`.`license_key`, `p`.`column1`, 2), '-') = 0;
--> statement-breakpoint
CREATE TRIGGER `licenses_key_length_insert` BEFORE INSERT ON `licenses` WHEN length(NEW.`license_key`) > 32 BEGIN
	SELECT RAISE(ABORT, 'license_key is longer than 32 characters');
END;
--> statement-breakpoint
CREATE TRIGGER `licenses_key_length_update` BEFORE UPDATE OF `license_key` ON `licenses` WHEN length(NEW.`license_key`) > 32 BEGIN
	SELECT RAISE(ABORT, 'license_key is longer than 32 characters');
END;
--> statement-breakpoint
CREATE TRIGGER `licenses_key_grams_insert` AFTER INSERT ON `licenses` BEGIN
	INSERT OR IGNORE INTO `license_key_grams` (`gram`, `license_key`)
	SELECT substr(upper(NEW.`license_key`), `p`.`column1`, 2), NEW.`license_key` FROM (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15), (16), (17), (18), (19), (20), (21), (22), (23), (24), (25), (26), (27), (28), (29), (30), (31)) AS `p`
	WHERE `p`.`column1` < length(NEW.`license_key`) AND instr(substr(NEW.`license_key`, `p`.`column1`, 2), '-') = 0;
END;
--> statement-breakpoint
CREATE TRIGGER `licenses_key_grams_delete` AFTER DELETE ON `licenses` BEGIN
	DELETE FROM `license_key_grams` WHERE `license_key` = OLD.`license_key` AND `gram` IN (SELECT substr(upper(OLD.`license_key`), `p`.`column1`, 2) FROM (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15), (16), (17), (18), (19), (20), (21), (22), (23), (24), (25), (26), (27), (28), (29), (30), (31)) AS `p` WHERE `p`.`column1` < length(OLD.`license_key`) AND instr(substr(OLD.`license_key`, `p`.`column1`, 2), '-') = 0);
END;
--> statement-breakpoint
CREATE TRIGGER `licenses_key_grams_update` AFTER UPDATE OF `license_key` ON `licenses` WHEN OLD.`license_key` IS NOT NEW.`license_key` BEGIN
	DELETE FROM `license_key_grams` WHERE `license_key` = OLD.`license_key` AND `gram` IN (SELECT substr(upper(OLD.`license_key`), `p`.`column1`, 2) FROM (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15), (16), (17), (18), (19), (20), (21), (22), (23), (24), (25), (26), (27), (28), (29), (30), (31)) AS `p` WHERE `p`.`column1` < length(OLD.`license_key`) AND instr(substr(OLD.`license_key`, `p`.`column1`, 2), '-') = 0);
	INSERT OR IGNORE INTO `license_key_grams` (`gram`, `license_key`)
	SELECT substr(upper(NEW.`license_key`), `p`.`column1`, 2), NEW.`license_key` FROM (VALUES (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15), (16), (17), (18), (19), (20), (21), (22), (23), (24), (25), (26), (27), (28), (29), (30), (31)) AS `p`
	WHERE `p`.`column1` < length(NEW.`license_key`) AND instr(substr(NEW.`license_key`, `p`.`column1`, 2), '-') = 0;
END;
