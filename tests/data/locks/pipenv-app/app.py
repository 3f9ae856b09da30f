print("pipenv-app")
