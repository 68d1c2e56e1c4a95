ALTER TABLE "predictions" ADD COLUMN "words" jsonb;--> statement-breakpoint
ALTER TABLE "predictions" ADD COLUMN "error" text;