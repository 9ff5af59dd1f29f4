DROP INDEX "events_key_unique";--> statement-breakpoint
ALTER TABLE "events" ADD COLUMN "key_owner" text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "events_owner_key_unique" ON "events" USING btree ("key_owner","key");