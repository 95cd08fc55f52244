CREATE TABLE `feature_schedules` (
	`feature_id` integer PRIMARY KEY NOT NULL,
	`next_run_at` integer,
	`lease_run_id` text,
	`lease_until` integer,
	`failures` integer DEFAULT 0 NOT NULL,
	`watermark` text,
	`last_run_id` text,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`feature_id`) REFERENCES `features`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `run_values` (
	`run_id` text NOT NULL,
	`seq` integer NOT NULL,
	`entity_id` text NOT NULL,
	`ts` integer NOT NULL,
	`value` text NOT NULL,
	`changed` integer,
	PRIMARY KEY(`run_id`, `seq`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
