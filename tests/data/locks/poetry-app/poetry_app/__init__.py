def main(): print("poetry-app")
