"""Studies beyond the method: the pre-training ablation, the reviewers' questions, label noise, residuals."""
