"""The release path's programs: they run in Cloud Build's and Cloud Deploy's images and in an
operator's shell beside gcloud, so they import the Python standard library only (and nothing of
soulsync; tests/deploy/test_deploy_package.py holds that). Run each from the repository root as
`python3 -m deploy.<name>`."""
