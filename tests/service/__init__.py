"""The service's top-level modules: its settings, the questionnaire, the texts and their
translations, the server's log lines."""
