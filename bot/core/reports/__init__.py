"""Cluster reports: building one (`report now`) and posting them on schedules."""
