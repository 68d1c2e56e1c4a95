ALTER TABLE "items" ADD COLUMN "disputed_label" text;--> statement-breakpoint
ALTER TABLE "items" ADD COLUMN "dispute_score" real;--> statement-breakpoint
ALTER TABLE "items" ADD COLUMN "disputed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "items" ADD COLUMN "reviewed" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "items_disputed_idx" ON "items" USING btree ("project_id","disputed_at");