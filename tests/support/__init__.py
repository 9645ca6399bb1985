"""What the tests share: a generated survey, a shifted population, a fake Cloud Build and
gcloud, a gunicorn started for the end-to-end tests, a fresh interpreter importing the app."""
