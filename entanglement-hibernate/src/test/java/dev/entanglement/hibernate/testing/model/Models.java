package dev.entanglement.hibernate.testing.model;

/** The test entity classes, for node builders. */
public final class Models {
  private Models() {}

  public static final Class<?>[] ALL = {
    Item.class, AllTypes.class, Customer.class, Purchase.class, Vehicle.class, Car.class,
    Truck.class, Document.class, Invoice.class
  };
}
