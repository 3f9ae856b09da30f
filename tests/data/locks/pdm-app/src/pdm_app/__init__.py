def main(): print("pdm-app")
