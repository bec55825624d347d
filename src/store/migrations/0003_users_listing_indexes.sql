DROP INDEX `users_created_at_idx`;--> statement-breakpoint
DROP INDEX `users_name_idx`;--> statement-breakpoint
CREATE INDEX `users_created_at_idx` ON `users` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `users_name_idx` ON `users` (`name`,"created_at" desc,`id`);