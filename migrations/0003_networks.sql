CREATE TABLE `network_endpoints` (
	`job_id` text PRIMARY KEY NOT NULL,
	`network` text NOT NULL,
	`ip` text NOT NULL,
	`names` text DEFAULT '[]' NOT NULL,
	`container_id` text,
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`network`) REFERENCES `networks`(`name`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `network_endpoints_ip` ON `network_endpoints` (`network`,`ip`);--> statement-breakpoint
CREATE TABLE `networks` (
	`name` text PRIMARY KEY NOT NULL,
	`id` text NOT NULL,
	`bridge` text NOT NULL,
	`subnet` text NOT NULL,
	`gateway` text NOT NULL,
	`labels` text DEFAULT '{}' NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `networks_bridge` ON `networks` (`bridge`);--> statement-breakpoint
CREATE TABLE `port_allocations` (
	`job_id` text NOT NULL,
	`host_ip` text NOT NULL,
	`host_port` integer NOT NULL,
	`protocol` text NOT NULL,
	`container_port` integer NOT NULL,
	PRIMARY KEY(`host_ip`, `host_port`, `protocol`),
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `port_allocations_job` ON `port_allocations` (`job_id`);