package dev.entanglement.sample.spring;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;

/** Run two instances on two databases with each other as peers (see README.md, "With Spring Boot"). */
@SpringBootApplication
public class SpringSampleApplication {
  public static void main(String[] args) {
    SpringApplication.run(SpringSampleApplication.class, args);
  }
}
