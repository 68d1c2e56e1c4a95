CREATE TABLE "label_studio_annotations" (
	"project_id" text NOT NULL,
	"annotation_id" text NOT NULL,
	"item_id" text NOT NULL,
	"label" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "label_studio_annotations_project_id_annotation_id_pk" PRIMARY KEY("project_id","annotation_id")
);
--> statement-breakpoint
ALTER TABLE "label_studio_annotations" ADD CONSTRAINT "label_studio_annotations_project_id_projects_id_fk" FOREIGN KEY ("project_id") REFERENCES "public"."projects"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "label_studio_annotations" ADD CONSTRAINT "label_studio_annotations_item_id_items_id_fk" FOREIGN KEY ("item_id") REFERENCES "public"."items"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "label_studio_annotations_item_idx" ON "label_studio_annotations" USING btree ("item_id");