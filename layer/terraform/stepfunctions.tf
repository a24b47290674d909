# Optional: one snapshot sharded over many invocations of the function
# (hp plan, hp shard, hp commit) by a Step Functions state machine with a
# Distributed Map, and an EventBridge Scheduler schedule that starts it.
# See docs/sharding.md. The function's environment names the table
# (HP_SOURCE_OBJECT, HP_TARGET_OBJECT, cp snap options) as for cp snap.

data "aws_region" "current" {}

locals {
  sharded       = var.shards != null
  machine_name  = "${var.function_name}-sharded"
  machine_arn   = "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:stateMachine:${local.machine_name}"
  execution_arn = "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:execution:${local.machine_name}:*"
  # Plans and their items: one per execution, under the function's prefix.
  plan_prefix  = "${local.target_dsn}/_plans"
  plan_objects = local.prefix == "" ? "${local.bucket_arn}/_plans/*" : "${local.bucket_arn}/${local.prefix}/_plans/*"
}

data "aws_iam_policy_document" "assume_states" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "states" {
  count              = local.sharded ? 1 : 0
  name               = local.machine_name
  assume_role_policy = data.aws_iam_policy_document.assume_states.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "states" {
  count = local.sharded ? 1 : 0
  name  = "sharded"
  role  = aws_iam_role.states[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "InvokeFunction"
        Effect   = "Allow"
        Action   = "lambda:InvokeFunction"
        Resource = [aws_lambda_function.hp.arn, "${aws_lambda_function.hp.arn}:*"]
      },
      {
        Sid      = "ReadItems"
        Effect   = "Allow"
        Action   = "s3:GetObject"
        Resource = local.plan_objects
      },
      {
        # The Distributed Map runs its items as child executions.
        Sid      = "ChildExecutions"
        Effect   = "Allow"
        Action   = ["states:StartExecution", "states:DescribeExecution", "states:StopExecution"]
        Resource = [local.machine_arn, local.execution_arn]
      },
    ]
  })
}

resource "aws_sfn_state_machine" "sharded" {
  count    = local.sharded ? 1 : 0
  name     = local.machine_name
  role_arn = aws_iam_role.states[0].arn
  definition = templatefile("${path.module}/sharded.asl.json", {
    function_arn    = aws_lambda_function.hp.arn
    plan_prefix     = local.plan_prefix
    shards          = var.shards
    max_concurrency = var.shard_max_concurrency
  })
  tags = var.tags

  depends_on = [aws_iam_role_policy.states]
}

# --- Schedule of the state machine (example) ---------------------------------

resource "aws_iam_role" "sharded_scheduler" {
  count              = local.sharded && var.shards_schedule_expression != null ? 1 : 0
  name               = "${local.machine_name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.assume_scheduler.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "sharded_scheduler" {
  count = local.sharded && var.shards_schedule_expression != null ? 1 : 0
  name  = "start"
  role  = aws_iam_role.sharded_scheduler[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "states:StartExecution"
      Resource = aws_sfn_state_machine.sharded[0].arn
    }]
  })
}

resource "aws_scheduler_schedule" "sharded" {
  count = local.sharded && var.shards_schedule_expression != null ? 1 : 0

  name                         = local.machine_name
  schedule_expression          = var.shards_schedule_expression
  schedule_expression_timezone = var.schedule_timezone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_sfn_state_machine.sharded[0].arn
    role_arn = aws_iam_role.sharded_scheduler[0].arn
    input    = "{}"
  }
}
