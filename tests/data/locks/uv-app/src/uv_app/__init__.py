def main(): print("uv-app")
