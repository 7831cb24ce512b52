"""Entrance-exam practice: the question bank, practice by topic, mock exams and item analysis."""
