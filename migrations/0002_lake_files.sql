CREATE TABLE `lake_files` (
	`feature_id` integer NOT NULL,
	`key` text NOT NULL,
	`etag` text NOT NULL,
	`size` integer NOT NULL,
	`rows` integer NOT NULL,
	`run_id` text,
	`ingested_at` integer NOT NULL,
	PRIMARY KEY(`feature_id`, `key`),
	FOREIGN KEY (`feature_id`) REFERENCES `features`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `lake_runs` (
	`run_id` text PRIMARY KEY NOT NULL,
	`files_matched` integer DEFAULT 0 NOT NULL,
	`files_skipped` integer DEFAULT 0 NOT NULL,
	`next_seq` integer DEFAULT 0 NOT NULL,
	`max_ts` integer,
	`invocations` integer DEFAULT 0 NOT NULL,
	`busy_until` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `run_files` (
	`run_id` text NOT NULL,
	`seq` integer NOT NULL,
	`key` text NOT NULL,
	`etag` text NOT NULL,
	`size` integer NOT NULL,
	`status` text NOT NULL,
	`rows_read` integer DEFAULT 0 NOT NULL,
	`rows_written` integer DEFAULT 0 NOT NULL,
	`rows_unchanged` integer DEFAULT 0 NOT NULL,
	`cursor_row` integer DEFAULT 0 NOT NULL,
	`cursor_byte` integer DEFAULT 0 NOT NULL,
	`stage_from` integer,
	`error` text,
	`finished_at` integer,
	PRIMARY KEY(`run_id`, `seq`),
	FOREIGN KEY (`run_id`) REFERENCES `runs`(`id`) ON UPDATE no action ON DELETE cascade
);
