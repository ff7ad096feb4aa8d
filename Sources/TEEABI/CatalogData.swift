// Placeholder: completed from the conformance fixture (issue 2).
enum CatalogData {
    static let entries: [ABIConstant] = [
        ABIConstant(.teeResultCodes, "TEE_SUCCESS", 0),
    ]
}
