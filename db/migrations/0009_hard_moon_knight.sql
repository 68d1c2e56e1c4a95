ALTER TABLE "consolidated_labels" ADD COLUMN "gain" real DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "consolidated_gain_idx" ON "consolidated_labels" USING btree ("project_id","gain" DESC NULLS LAST) WHERE "consolidated_labels"."needs_more";--> statement-breakpoint
-- Labels the settings required before this column existed keep their priority (REQUIRED_GAIN).
UPDATE "consolidated_labels" SET "gain" = 1 WHERE "needs_more";
