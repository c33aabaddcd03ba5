CREATE TABLE `attempts` (
	`job_id` text NOT NULL,
	`n` integer NOT NULL,
	`container_id` text NOT NULL,
	`state` text NOT NULL,
	`reason` text,
	`message` text,
	`exit_code` integer,
	`signal` text,
	`oom_killed` integer DEFAULT false NOT NULL,
	`timed_out` integer DEFAULT false NOT NULL,
	`usage` text,
	`log_offset` integer,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	PRIMARY KEY(`job_id`, `n`),
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `jobs` ADD `attempt` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` ADD `failures` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` ADD `backoff_step` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` ADD `queued_at` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `next_attempt_at` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `stopped_by_user` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` ADD `stop_deadline` integer;--> statement-breakpoint
ALTER TABLE `jobs` ADD `health` text;--> statement-breakpoint
CREATE INDEX `jobs_queue` ON `jobs` (`state`,`queued_at`);--> statement-breakpoint
-- Jobs from before attempts existed ran at most once, in a container named after the job.
INSERT INTO `attempts` (`job_id`, `n`, `container_id`, `state`, `reason`, `message`, `exit_code`, `signal`, `oom_killed`, `timed_out`, `usage`, `log_offset`, `created_at`, `started_at`, `finished_at`)
  SELECT `id`, 1, `id`, `state`, `reason`, `message`, `exit_code`, `signal`, `oom_killed`, `timed_out`, `usage`, 0, `created_at`, `started_at`, `finished_at` FROM `jobs` WHERE `state` != 'queued';--> statement-breakpoint
UPDATE `jobs` SET `attempt` = 1 WHERE `state` != 'queued';--> statement-breakpoint
UPDATE `jobs` SET `queued_at` = `created_at` WHERE `state` = 'queued';
