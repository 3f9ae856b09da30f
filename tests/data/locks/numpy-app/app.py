print("numpy-app")
