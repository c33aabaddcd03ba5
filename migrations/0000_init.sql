CREATE TABLE `image_layers` (
	`image_id` text NOT NULL,
	`position` integer NOT NULL,
	`diff_id` text NOT NULL,
	PRIMARY KEY(`image_id`, `position`),
	FOREIGN KEY (`image_id`) REFERENCES `images`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`diff_id`) REFERENCES `layers`(`diff_id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `image_layers_diff` ON `image_layers` (`diff_id`);--> statement-breakpoint
CREATE TABLE `image_refs` (
	`ref` text PRIMARY KEY NOT NULL,
	`image_id` text NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`image_id`) REFERENCES `images`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `image_refs_image` ON `image_refs` (`image_id`);--> statement-breakpoint
CREATE TABLE `images` (
	`id` text PRIMARY KEY NOT NULL,
	`manifest_digest` text NOT NULL,
	`manifest_media_type` text NOT NULL,
	`config_json` text NOT NULL,
	`platform` text NOT NULL,
	`size` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `job_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`job_id` text NOT NULL,
	`state` text NOT NULL,
	`time` integer NOT NULL,
	`detail` text,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `job_events_job` ON `job_events` (`job_id`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text,
	`state` text NOT NULL,
	`image` text NOT NULL,
	`image_id` text,
	`request` text NOT NULL,
	`labels` text DEFAULT '{}' NOT NULL,
	`reason` text,
	`message` text,
	`exit_code` integer,
	`signal` text,
	`oom_killed` integer DEFAULT false NOT NULL,
	`timed_out` integer DEFAULT false NOT NULL,
	`usage` text,
	`restarts` integer DEFAULT 0 NOT NULL,
	`schedule_id` text,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer
);
--> statement-breakpoint
CREATE INDEX `jobs_state` ON `jobs` (`state`);--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_name` ON `jobs` (`name`) WHERE name IS NOT NULL;--> statement-breakpoint
CREATE TABLE `layers` (
	`diff_id` text PRIMARY KEY NOT NULL,
	`digest` text NOT NULL,
	`media_type` text NOT NULL,
	`size` integer NOT NULL,
	`unpacked_size` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
