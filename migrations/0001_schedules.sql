CREATE TABLE `schedule_ticks` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`schedule_id` text NOT NULL,
	`scheduled_time` integer NOT NULL,
	`trigger` text NOT NULL,
	`outcome` text NOT NULL,
	`reason` text,
	`job_id` text,
	`recorded_at` integer NOT NULL,
	FOREIGN KEY (`schedule_id`) REFERENCES `schedules`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `schedule_ticks_tick` ON `schedule_ticks` (`schedule_id`,`scheduled_time`) WHERE "trigger" <> 'manual';--> statement-breakpoint
CREATE INDEX `schedule_ticks_schedule` ON `schedule_ticks` (`schedule_id`,`id`);--> statement-breakpoint
CREATE TABLE `schedules` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`spec` text NOT NULL,
	`job` text NOT NULL,
	`job_request` text NOT NULL,
	`suspended` integer DEFAULT false NOT NULL,
	`cursor` integer NOT NULL,
	`missed_total` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `schedules_name` ON `schedules` (`name`);--> statement-breakpoint
CREATE INDEX `jobs_schedule` ON `jobs` (`schedule_id`) WHERE schedule_id IS NOT NULL;