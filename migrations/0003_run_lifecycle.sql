DROP TABLE `lake_runs`;--> statement-breakpoint
ALTER TABLE `runs` ADD `cursor` text;--> statement-breakpoint
ALTER TABLE `runs` ADD `next_seq` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `runs` ADD `commit_seq` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `runs` ADD `invocations` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `runs` ADD `busy_until` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `runs_created_idx` ON `runs` (`created_at`);--> statement-breakpoint
CREATE INDEX `runs_status_idx` ON `runs` (`status`,`created_at`);