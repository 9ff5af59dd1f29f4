DROP INDEX `events_key_unique`;--> statement-breakpoint
ALTER TABLE `events` ADD `key_owner` text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX `events_owner_key_unique` ON `events` (`key_owner`,`key`);