DROP INDEX `features_name_uq`;--> statement-breakpoint
DROP INDEX `features_group_idx`;--> statement-breakpoint
CREATE UNIQUE INDEX `features_group_name_uq` ON `features` (`feature_group`,`name`);--> statement-breakpoint
CREATE INDEX `features_name_idx` ON `features` (`name`);