# An hp job as an AWS Lambda function: its role (logs, the S3 prefix and
# nothing else), its plugin layers, the function itself and, optionally, a
# schedule. See README.md and docs/lambda.md.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  prefix     = trim(var.s3_prefix, "/")
  bucket_arn = "arn:${data.aws_partition.current.partition}:s3:::${var.s3_bucket}"
  objects    = local.prefix == "" ? "${local.bucket_arn}/*" : "${local.bucket_arn}/${local.prefix}/*"
  target_dsn = local.prefix == "" ? "s3://${var.s3_bucket}" : "s3://${var.s3_bucket}/${local.prefix}"

  environment = merge(
    {
      HP_12FACTOR_MODE = "1"
      HP_COMMAND       = var.command
      HP_SUBCOMMAND    = var.subcommand
      HP_TARGET_DSN    = local.target_dsn
    },
    var.source_dsn == null ? {} : { HP_SOURCE_DSN = var.source_dsn },
    var.environment,
  )

  # Plugin layers in name order, then the extra ones.
  layer_arns = concat(
    [for name in sort(keys(var.plugin_layers)) : aws_lambda_layer_version.plugin[name].arn],
    var.extra_layer_arns,
  )
  in_vpc   = length(var.subnet_ids) > 0
  kms_keys = compact([var.s3_kms_key_arn, var.environment_kms_key_arn])
}

# --- The execution role ---------------------------------------------------

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "hp" {
  name               = var.function_name
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = var.tags
}

resource "aws_cloudwatch_log_group" "hp" {
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

data "aws_iam_policy_document" "hp" {
  # Logs, into the function's own log group only (created above).
  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.hp.arn}:*"]
  }

  # S3: list the prefix (hp runs, hp verify, the start-up check) ...
  statement {
    sid       = "ListPrefix"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
    dynamic "condition" {
      for_each = local.prefix == "" ? [] : [1]
      content {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = ["${local.prefix}/*"]
      }
    }
  }

  # ... and write, read back and clean up the objects under it: data files,
  # manifests, the delta state; deletes only remove the files of a failed run.
  statement {
    sid       = "ObjectsUnderPrefix"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = [local.objects]
  }

  # A shard rerun (hp shard) aborts the unfinished uploads of the attempt
  # it replaces: only with the sharded state machine.
  dynamic "statement" {
    for_each = var.shards == null ? [] : [1]
    content {
      sid       = "ListUploads"
      actions   = ["s3:ListBucketMultipartUploads"]
      resources = [local.bucket_arn]
    }
  }

  dynamic "statement" {
    for_each = length(local.kms_keys) > 0 ? [1] : []
    content {
      sid       = "Kms"
      actions   = var.s3_kms_key_arn == null ? ["kms:Decrypt"] : ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = local.kms_keys
    }
  }
}

resource "aws_iam_role_policy" "hp" {
  name   = "hp"
  role   = aws_iam_role.hp.id
  policy = data.aws_iam_policy_document.hp.json
}

# Network interfaces in the VPC, only when the function runs in one.
resource "aws_iam_role_policy_attachment" "vpc" {
  count      = local.in_vpc ? 1 : 0
  role       = aws_iam_role.hp.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

# --- Layers and function ----------------------------------------------------

resource "aws_lambda_layer_version" "plugin" {
  for_each = var.plugin_layers

  layer_name               = "${var.layer_name_prefix}${each.key}-${var.architecture}"
  description              = "hp connector plugin ${each.key} (/opt/hp/plugins/hp-plugin-${each.key})"
  filename                 = each.value
  source_code_hash         = filebase64sha256(each.value)
  compatible_runtimes      = ["provided.al2023"]
  compatible_architectures = [var.architecture]
}

resource "aws_lambda_function" "hp" {
  function_name    = var.function_name
  description      = "hp ${var.command} ${var.subcommand}"
  role             = aws_iam_role.hp.arn
  runtime          = "provided.al2023"
  handler          = "bootstrap"
  architectures    = [var.architecture]
  filename         = var.function_zip
  source_code_hash = filebase64sha256(var.function_zip)
  timeout          = var.timeout
  memory_size      = var.memory_size
  layers           = local.layer_arns
  kms_key_arn      = var.environment_kms_key_arn

  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = local.environment
  }

  dynamic "vpc_config" {
    for_each = local.in_vpc ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(local.layer_arns) <= 5
      error_message = "Lambda attaches at most 5 layers to a function: attach only the plugins the job uses."
    }
    precondition {
      condition     = !local.in_vpc || length(var.security_group_ids) > 0
      error_message = "A function in a VPC needs security_group_ids."
    }
  }

  # The role's permissions and the log group exist before the first invocation.
  depends_on = [
    aws_iam_role_policy.hp,
    aws_iam_role_policy_attachment.vpc,
    aws_cloudwatch_log_group.hp,
  ]
}

# --- Schedule -----------------------------------------------------------------

data "aws_iam_policy_document" "assume_scheduler" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count              = var.schedule_expression == null ? 0 : 1
  name               = "${var.function_name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.assume_scheduler.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "scheduler" {
  count = var.schedule_expression == null ? 0 : 1
  name  = "invoke"
  role  = aws_iam_role.scheduler[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "lambda:InvokeFunction"
      Resource = [aws_lambda_function.hp.arn, "${aws_lambda_function.hp.arn}:*"]
    }]
  })
}

resource "aws_scheduler_schedule" "hp" {
  count = var.schedule_expression == null ? 0 : 1

  name                         = var.function_name
  schedule_expression          = var.schedule_expression
  schedule_expression_timezone = var.schedule_timezone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.hp.arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = var.schedule_input
  }
}
