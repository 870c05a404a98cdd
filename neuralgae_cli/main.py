def main():
    print("nd")
