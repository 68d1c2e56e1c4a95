DROP INDEX "items_queue_idx";--> statement-breakpoint
CREATE INDEX "items_queue_random_idx" ON "items" USING btree ("project_id","status","split","holdout","rand","seq");--> statement-breakpoint
CREATE INDEX "items_queue_class_idx" ON "items" USING btree ("project_id","status","split","holdout","pred_label","confidence" DESC NULLS FIRST,"rand");--> statement-breakpoint
CREATE INDEX "items_leased_idx" ON "items" USING btree ("project_id","leased_by") WHERE "items"."leased_by" is not null;--> statement-breakpoint
CREATE INDEX "items_labelled_idx" ON "items" USING btree ("project_id","split","status","holdout","label_source","label") WHERE "items"."label" is not null;--> statement-breakpoint
CREATE INDEX "items_queue_idx" ON "items" USING btree ("project_id","status","split","holdout","uncertainty" DESC NULLS LAST,"rand");