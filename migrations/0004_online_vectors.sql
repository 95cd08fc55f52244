CREATE TABLE `online_vectors` (
	`feature_group` text NOT NULL,
	`entity_id` text NOT NULL,
	`written_at` integer NOT NULL,
	`pending` integer DEFAULT 0 NOT NULL,
	`claim` text,
	`expires_at` integer,
	PRIMARY KEY(`feature_group`, `entity_id`)
);
--> statement-breakpoint
CREATE INDEX `online_vectors_expiry_idx` ON `online_vectors` (`expires_at`);