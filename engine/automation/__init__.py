"""Automated work: jobs of service tasks, retries with backoff, failed steps, the poller's lease."""
