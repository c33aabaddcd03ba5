ALTER TABLE `jobs` ADD `parent_id` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `conn_total` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` ADD `conn_refused` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `jobs_parent` ON `jobs` (`parent_id`) WHERE parent_id IS NOT NULL;