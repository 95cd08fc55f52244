CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`hash` text NOT NULL,
	`scopes` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_hash_uq` ON `api_keys` (`hash`);--> statement-breakpoint
CREATE TABLE `connectors` (
	`name` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`config` text NOT NULL,
	`secrets` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `feature_latest` (
	`feature_id` integer NOT NULL,
	`entity_id` text NOT NULL,
	`ts` integer NOT NULL,
	`value` text NOT NULL,
	PRIMARY KEY(`feature_id`, `entity_id`),
	FOREIGN KEY (`feature_id`) REFERENCES `features`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `feature_values` (
	`feature_id` integer NOT NULL,
	`entity_id` text NOT NULL,
	`ts` integer NOT NULL,
	`value` text NOT NULL,
	PRIMARY KEY(`feature_id`, `entity_id`, `ts`),
	FOREIGN KEY (`feature_id`) REFERENCES `features`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `feature_values_time_idx` ON `feature_values` (`feature_id`,`ts`);--> statement-breakpoint
CREATE TABLE `features` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`entity_id` text NOT NULL,
	`feature_group` text NOT NULL,
	`value_type` text NOT NULL,
	`ttl_seconds` integer,
	`tags` text DEFAULT '{}' NOT NULL,
	`owner` text,
	`source_type` text NOT NULL,
	`source` text DEFAULT '{}' NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `features_name_uq` ON `features` (`name`);--> statement-breakpoint
CREATE INDEX `features_group_idx` ON `features` (`feature_group`,`name`);--> statement-breakpoint
CREATE INDEX `features_entity_idx` ON `features` (`entity_id`,`name`);--> statement-breakpoint
CREATE INDEX `features_source_type_idx` ON `features` (`source_type`,`name`);--> statement-breakpoint
CREATE TABLE `runs` (
	`id` text PRIMARY KEY NOT NULL,
	`feature_id` integer NOT NULL,
	`status` text NOT NULL,
	`trigger` text NOT NULL,
	`rows_read` integer DEFAULT 0 NOT NULL,
	`rows_written` integer DEFAULT 0 NOT NULL,
	`rows_unchanged` integer DEFAULT 0 NOT NULL,
	`watermark` text,
	`error` text,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	FOREIGN KEY (`feature_id`) REFERENCES `features`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `runs_feature_idx` ON `runs` (`feature_id`,`created_at`);