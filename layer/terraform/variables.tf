variable "function_name" {
  description = "Name of the Lambda function; also names its role, log group and schedule."
  type        = string
}

variable "architecture" {
  description = "Lambda architecture: x86_64 or arm64. The zips must be built for it (make lambda builds both)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "The architecture must be x86_64 or arm64."
  }
}

variable "function_zip" {
  description = "Path of the function zip, e.g. dist/lambda/hp-function-arm64.zip."
  type        = string
}

variable "plugin_layers" {
  description = "Plugin layers to publish and attach: plugin name => path of its layer zip, e.g. { postgres = \"dist/lambda/hp-layer-postgres-arm64.zip\" }."
  type        = map(string)
  default     = {}
}

variable "extra_layer_arns" {
  description = "ARNs of layer versions published elsewhere, attached after the plugin layers. Lambda attaches at most 5 layers in all."
  type        = list(string)
  default     = []
}

variable "layer_name_prefix" {
  description = "Prefix of the names of the published plugin layers; the name is <prefix><plugin>-<architecture>."
  type        = string
  default     = "hp-plugin-"
}

variable "timeout" {
  description = "Function timeout in seconds (at most 900). A delta stops cleanly before it, leaving more_to_do for the next invocation."
  type        = number
  default     = 900

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900
    error_message = "The timeout must be between 1 and 900 seconds."
  }
}

variable "memory_size" {
  description = "Function memory in MB (128 to 10240). Lambda gives CPU in proportion to it."
  type        = number
  default     = 1024
}

variable "command" {
  description = "HP_COMMAND of the job."
  type        = string
  default     = "cp"
}

variable "subcommand" {
  description = "HP_SUBCOMMAND of the job: snap or delta for cp."
  type        = string
  default     = "snap"
}

variable "source_dsn" {
  description = "HP_SOURCE_DSN, the source database. Sensitive: read it from Secrets Manager or SSM Parameter Store rather than writing it in code. Null to set it in environment instead."
  type        = string
  default     = null
  sensitive   = true
}

variable "s3_bucket" {
  description = "Bucket the function writes to. The role may write only under s3_prefix in it."
  type        = string
}

variable "s3_prefix" {
  description = "Prefix under the bucket (no leading or trailing slash), e.g. raw. Empty for the whole bucket. HP_TARGET_DSN defaults to s3://<bucket>/<prefix>."
  type        = string
  default     = ""
}

variable "s3_kms_key_arn" {
  description = "KMS key of the bucket's SSE-KMS encryption (HP_S3_SSE=aws:kms), if any: the role gets kms:GenerateDataKey and kms:Decrypt on it."
  type        = string
  default     = null
}

variable "environment" {
  description = "HP_* variables of the job (HP_SOURCE_OBJECT, HP_TARGET_OBJECT, HP_DELTA_DRIVER, HP_FORMAT, ...). Merged over HP_12FACTOR_MODE, HP_COMMAND, HP_SUBCOMMAND, HP_SOURCE_DSN and HP_TARGET_DSN, so any of them can be overridden here."
  type        = map(string)
  default     = {}
}

variable "environment_kms_key_arn" {
  description = "Customer managed KMS key that encrypts the function's environment variables at rest (null: Lambda's AWS managed key). The role gets kms:Decrypt on it."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Private subnets to run the function in, to reach a database in a VPC. Empty: no VPC. The subnets need an S3 gateway endpoint or a NAT gateway to reach S3."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function in the VPC (outbound to the database port and to HTTPS for S3)."
  type        = list(string)
  default     = []
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions. 1 keeps two deltas on one target from overlapping; -1 leaves the function unreserved."
  type        = number
  default     = -1
}

variable "log_retention_days" {
  description = "Retention of the function's CloudWatch log group, in days."
  type        = number
  default     = 30
}

variable "schedule_expression" {
  description = "EventBridge Scheduler expression that runs the job, e.g. rate(15 minutes) or cron(0 2 * * ? *). Null: no schedule."
  type        = string
  default     = null
}

variable "schedule_timezone" {
  description = "Time zone of a cron schedule_expression."
  type        = string
  default     = "UTC"
}

variable "schedule_input" {
  description = "Event sent by the schedule, as JSON; its HP_* keys override the function's variables for that invocation."
  type        = string
  default     = "{}"
}

variable "tags" {
  description = "Tags for every resource that takes them."
  type        = map(string)
  default     = {}
}

variable "shards" {
  description = "Cut the snapshot into this many slices, each read by its own invocation under a Step Functions Distributed Map (stepfunctions.tf, docs/sharding.md). Null: no state machine."
  type        = number
  default     = null

  validation {
    condition     = var.shards == null ? true : (var.shards >= 1 && var.shards <= 10000)
    error_message = "shards must be between 1 and 10000."
  }
}

variable "shard_max_concurrency" {
  description = "How many shards the Distributed Map runs at once: the database's connections and the function's concurrency bound it."
  type        = number
  default     = 10
}

variable "shards_schedule_expression" {
  description = "EventBridge Scheduler expression that starts the sharded state machine, e.g. cron(0 2 * * ? *). Null: no schedule."
  type        = string
  default     = null
}
