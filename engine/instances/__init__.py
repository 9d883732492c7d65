"""Requests: process instances, their open steps, history, comments, attachments and jobs."""
