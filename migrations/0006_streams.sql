CREATE TABLE `stream_clock` (
	`feature_id` integer NOT NULL,
	`entity_id` text NOT NULL,
	`next_change_at` integer NOT NULL,
	PRIMARY KEY(`feature_id`, `entity_id`),
	FOREIGN KEY (`feature_id`) REFERENCES `features`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `stream_clock_due_idx` ON `stream_clock` (`next_change_at`);--> statement-breakpoint
CREATE TABLE `stream_seen` (
	`topic` text NOT NULL,
	`event_id` text NOT NULL,
	`claim` text NOT NULL,
	`seen_at` integer NOT NULL,
	PRIMARY KEY(`topic`, `event_id`)
);
--> statement-breakpoint
CREATE INDEX `stream_seen_at_idx` ON `stream_seen` (`seen_at`);--> statement-breakpoint
CREATE TABLE `stream_stats` (
	`feature_id` integer PRIMARY KEY NOT NULL,
	`watermark` integer,
	`events` integer DEFAULT 0 NOT NULL,
	`late_events` integer DEFAULT 0 NOT NULL,
	`duplicates` integer DEFAULT 0 NOT NULL,
	`rejected` integer DEFAULT 0 NOT NULL,
	`last_event_time` integer,
	`last_applied_at` integer,
	FOREIGN KEY (`feature_id`) REFERENCES `features`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `stream_tiles` (
	`feature_id` integer NOT NULL,
	`entity_id` text NOT NULL,
	`tile_end` integer NOT NULL,
	`count` integer NOT NULL,
	`sum` real NOT NULL,
	`min` real,
	`max` real,
	PRIMARY KEY(`feature_id`, `entity_id`, `tile_end`),
	FOREIGN KEY (`feature_id`) REFERENCES `features`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `stream_tiles_end_idx` ON `stream_tiles` (`feature_id`,`tile_end`);