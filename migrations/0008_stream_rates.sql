ALTER TABLE `stream_stats` ADD `minute_start` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `stream_stats` ADD `minute_events` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `stream_stats` ADD `prev_minute_events` integer DEFAULT 0 NOT NULL;