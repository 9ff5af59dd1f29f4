CREATE TABLE "agents" (
	"agent_id" text PRIMARY KEY NOT NULL,
	"agent_type" text NOT NULL,
	"status" text NOT NULL,
	"status_event_id" bigint NOT NULL,
	"last_event_id" bigint NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" bigint PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"topic" text NOT NULL,
	"timestamp" timestamp (3) with time zone NOT NULL,
	"key" text,
	"source" text,
	"correlation_id" text,
	"agent_id" text,
	"workflow_id" text,
	"step_id" text,
	"task_id" text,
	"data" text NOT NULL,
	"received_at" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "store_meta" (
	"key" text PRIMARY KEY NOT NULL,
	"value" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tdd_tasks" (
	"task_id" text PRIMARY KEY NOT NULL,
	"agent_id" text NOT NULL,
	"phase" text,
	"phase_event_id" bigint,
	"last_event_id" bigint NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "workflows" (
	"workflow_id" text PRIMARY KEY NOT NULL,
	"workflow_type" text,
	"status" text NOT NULL,
	"current_step_id" text,
	"started_at" timestamp (3) with time zone,
	"finished_at" timestamp (3) with time zone,
	"lifecycle_event_id" bigint,
	"last_event_id" bigint NOT NULL,
	"updated_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "events_key_unique" ON "events" USING btree ("key");--> statement-breakpoint
CREATE INDEX "events_topic_id" ON "events" USING btree ("topic","id");--> statement-breakpoint
CREATE INDEX "events_type_id" ON "events" USING btree ("type","id");--> statement-breakpoint
CREATE INDEX "events_agent_id" ON "events" USING btree ("agent_id","id");--> statement-breakpoint
CREATE INDEX "events_step_id" ON "events" USING btree ("step_id","id");--> statement-breakpoint
CREATE INDEX "tdd_tasks_agent" ON "tdd_tasks" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "workflows_status" ON "workflows" USING btree ("status","last_event_id");