CREATE TABLE `log_epoch` (
	`id` integer PRIMARY KEY NOT NULL,
	`epoch` text NOT NULL,
	`created_at` integer NOT NULL,
	CONSTRAINT "log_epoch_one_row" CHECK("log_epoch"."id" = 1)
);
