import VTEEKit
print("vtee")
