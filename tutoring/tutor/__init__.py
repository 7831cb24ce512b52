"""The student tutor and Soro's chat for teachers (issue 13)."""
