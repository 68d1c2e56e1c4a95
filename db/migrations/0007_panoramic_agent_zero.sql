CREATE TABLE "consolidated_labels" (
	"item_id" text PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"label" text NOT NULL,
	"posterior" real NOT NULL,
	"n" integer NOT NULL,
	"method" text NOT NULL,
	"needs_more" boolean DEFAULT false NOT NULL,
	"fit_id" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "gold_checks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"item_id" text NOT NULL,
	"key_id" text NOT NULL,
	"served_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"answer" text,
	"correct" boolean,
	"answered_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "quality_fits" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"project_id" text NOT NULL,
	"labels" integer NOT NULL,
	"params" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "consolidated_labels" ADD CONSTRAINT "consolidated_labels_item_id_items_id_fk" FOREIGN KEY ("item_id") REFERENCES "public"."items"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consolidated_labels" ADD CONSTRAINT "consolidated_labels_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "gold_checks" ADD CONSTRAINT "gold_checks_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "gold_checks" ADD CONSTRAINT "gold_checks_item_id_items_id_fk" FOREIGN KEY ("item_id") REFERENCES "public"."items"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "quality_fits" ADD CONSTRAINT "quality_fits_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "consolidated_needs_more_idx" ON "consolidated_labels" USING btree ("project_id","needs_more");--> statement-breakpoint
CREATE UNIQUE INDEX "gold_checks_item_key_idx" ON "gold_checks" USING btree ("item_id","key_id");--> statement-breakpoint
CREATE INDEX "gold_checks_project_key_idx" ON "gold_checks" USING btree ("project_id","key_id","answered_at");--> statement-breakpoint
CREATE INDEX "quality_fits_project_idx" ON "quality_fits" USING btree ("project_id","id");