CREATE TABLE "usage_totals" (
	"scope" text NOT NULL,
	"id" text NOT NULL,
	"input_tokens" bigint NOT NULL,
	"output_tokens" bigint NOT NULL,
	"cache_read_tokens" bigint NOT NULL,
	"cache_creation_tokens" bigint NOT NULL,
	"cost_micros" bigint NOT NULL,
	"requests" bigint NOT NULL,
	"last_event_id" bigint NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "usage_totals_scope_id_pk" PRIMARY KEY("scope","id")
);
--> statement-breakpoint
CREATE INDEX "usage_totals_recent" ON "usage_totals" USING btree ("scope","last_event_id");