-- Each membership carries copies of its user's name and created_at, so that
-- ListUsers can count an organisation's members that match a filter on those
-- fields from one index (memberships_user_name_idx). Triggers keep the copies
-- exact on every write: a new membership takes them from its user, a moved
-- one (organisation_id or user_id rewritten) takes them again, and a change
-- of the user's name or created_at is written to all of the user's
-- memberships. Deleting a user or an organisation deletes the memberships by
-- their foreign keys, copies included.
ALTER TABLE `memberships` ADD `user_name` text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE `memberships` ADD `user_created_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE `memberships` SET (`user_name`, `user_created_at`) = (SELECT `users`.`name`, `users`.`created_at` FROM `users` WHERE `users`.`id` = `memberships`.`user_id`);--> statement-breakpoint
CREATE INDEX `memberships_user_name_idx` ON `memberships` (`organisation_id`,"user_name" collate nocase,`user_created_at`);--> statement-breakpoint
CREATE TRIGGER `memberships_user_copies_insert` AFTER INSERT ON `memberships` BEGIN
	UPDATE `memberships` SET (`user_name`, `user_created_at`) = (SELECT `users`.`name`, `users`.`created_at` FROM `users` WHERE `users`.`id` = NEW.`user_id`)
	WHERE `organisation_id` = NEW.`organisation_id` AND `user_id` = NEW.`user_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `memberships_user_copies_rekey` AFTER UPDATE OF `organisation_id`, `user_id` ON `memberships` BEGIN
	UPDATE `memberships` SET (`user_name`, `user_created_at`) = (SELECT `users`.`name`, `users`.`created_at` FROM `users` WHERE `users`.`id` = NEW.`user_id`)
	WHERE `organisation_id` = NEW.`organisation_id` AND `user_id` = NEW.`user_id`;
END;
--> statement-breakpoint
CREATE TRIGGER `users_membership_copies_update` AFTER UPDATE OF `name`, `created_at` ON `users`
WHEN OLD.`name` IS NOT NEW.`name` OR OLD.`created_at` IS NOT NEW.`created_at` BEGIN
	UPDATE `memberships` SET `user_name` = NEW.`name`, `user_created_at` = NEW.`created_at` WHERE `user_id` = NEW.`id`;
END;
