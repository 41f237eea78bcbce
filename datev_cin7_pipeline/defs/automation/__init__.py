"""Jobs, sensors and schedules that decide when the pipeline runs."""
