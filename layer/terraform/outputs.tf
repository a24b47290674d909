output "function_name" {
  description = "Name of the Lambda function."
  value       = aws_lambda_function.hp.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = aws_lambda_function.hp.arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = aws_iam_role.hp.arn
}

output "role_name" {
  description = "Name of the execution role, to attach further policies to."
  value       = aws_iam_role.hp.name
}

output "layer_arns" {
  description = "Published plugin layer versions: plugin name => layer version ARN."
  value       = { for name, layer in aws_lambda_layer_version.plugin : name => layer.arn }
}

output "log_group_name" {
  description = "CloudWatch log group of the function (JSON lines)."
  value       = aws_cloudwatch_log_group.hp.name
}

output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule, or null without one."
  value       = one(aws_scheduler_schedule.hp[*].arn)
}

output "state_machine_arn" {
  description = "ARN of the sharded snapshot's state machine, or null without one (shards = null)."
  value       = one(aws_sfn_state_machine.sharded[*].arn)
}
