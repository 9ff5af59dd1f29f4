CREATE TABLE `store_meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `events` ADD `received_at` integer DEFAULT 0 NOT NULL;